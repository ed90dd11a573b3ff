"""showers stage of resim."""
