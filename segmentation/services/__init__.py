"""Writes of the segmentation engine (models registry, embeddings, segment-everything jobs)."""
