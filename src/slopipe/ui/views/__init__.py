"""The pages of the UI: one module each, with a `render(ctx)`; keep them thin."""
