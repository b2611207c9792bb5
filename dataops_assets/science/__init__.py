"""The science track: frozen snapshots of cold storage, reproducible experiments on them, and a
champion/challenger gate that decides which model's predictions the hot store serves."""
