"""`ml-gen diff`: what applying one environment would change on a live cluster (server-side dry-run apply)."""
