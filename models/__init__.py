"""Prior specification files (TOML) shipped inside the bayesrf wheel as ``bayesrf.models``; data, never code."""
