"""Small pieces shared by annotator and segmentation; imports neither."""
