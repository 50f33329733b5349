"""A reference zone segmenter: a small U-Net from SAR patches to zone classes
(rock / glacier / ocean, or land / ocean), trained on a patch dataset."""
