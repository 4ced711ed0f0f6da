"""`slopipe serve`: the champion model behind a small scoring API (a shell, like `cli`)."""
