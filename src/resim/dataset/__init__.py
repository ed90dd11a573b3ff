"""Paired-jet HDF5 datasets: schema, writer, reader, cut-flow."""
