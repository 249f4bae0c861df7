"""Taking a trial away: `export` a SavedModel (`export`, `index`), `recommend` from one."""
