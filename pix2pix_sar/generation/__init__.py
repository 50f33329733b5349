"""Generation from masks of any size: tiling, artificial masks, synthetic datasets."""
