"""Export paired datasets to the field's layouts: JetClass ROOT and the RS3L training HDF5."""
