"""The field's dataset layouts (JetClass ROOT, the RS3L authors' HDF5): names, types and the
conversions to and from the project's jet arrays, shared by the exporters and the readers."""
