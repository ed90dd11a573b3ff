"""forks stage of resim."""
