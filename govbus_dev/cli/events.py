"""placeholder: events tail and replay"""
