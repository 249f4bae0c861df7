"""What a search keeps on disk: every path (`layout`), atomic writes (`atomic`), the search's
identity and lock, trial records, the vocabularies and the summary. Never imports TensorFlow."""
