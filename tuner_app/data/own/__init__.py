"""A user's own interaction logs -> `Ratings`: an interactions file (CSV, TSV, gzipped, Parquet) with its
columns detected, or a data YAML naming it, its columns, optional users' and items' tables and the
preprocessing (`load.load_own_data`). Modules, from the outside in: `spec` (the validated settings),
`data_yaml` (reading them), `columns` (detection), `table_files` and `values` (reading columns of a file),
`interactions` and `side_tables` (the two kinds of table), `preprocess` (duplicates, rating threshold,
k-core) and `load` (all of it into `Ratings`). numpy, pandas and pyarrow, imported when files are read.
"""
