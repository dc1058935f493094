"""Conway's Game of Life on a bounded grid."""
