"""The bundled recording, shipped inside the bayesrf wheel as ``bayesrf.bundled`` (see README.md here)."""
