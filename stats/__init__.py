"""Events in, figures out: the write side of statistics and its Redis keys."""
