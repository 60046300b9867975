"""The admin and REST web app (Quart on trio). Built in the web app foundation work."""
