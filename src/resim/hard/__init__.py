"""hard stage of resim."""
