"""detector stage of resim."""
