"""Results: ranked rows (`rows`), the CSV and history files (`results_csv`), the oracle's
trials turned into rows (`trials`), the printed table (`table`) and the figures (`plots`).
Never imports TensorFlow, so `report` runs in a second."""
