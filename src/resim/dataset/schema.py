"""The paired-jet HDF5 schema: the contract between the dataset writer and the training loader.

One file per (sample, shard)::

    /                      attrs: schema_version, sample, shard, views (JSON list, nominal
                           first), view_settings (JSON), seeds (JSON manifest), config_hash,
                           versions (JSON: resim, pythia8mc, fastjet, ...), cutflow (JSON),
                           label_names (JSON list, index = label code)
    /pairs/event_id        (n,)            int64    shared by every view of the pair
    /pairs/label           (n,)            int8     index into label_names (shared: from nominal)
    /pairs/parton          (n, 5)          float32  matched truth object: pid, pt, eta, phi, mass
    /views/<view>/constituents  (n, MAX_CONSTITUENTS, len(CONSTITUENT_FIELDS)) float32,
                           zero-padded, pT-ordered (highest first)
    /views/<view>/n_constituents (n,)      int16    number of real entries (mask = arange < n)
    /views/<view>/pileup   (n, MAX_CONSTITUENTS) int8  truth: constituent from pile-up (1) or
                           the hard event (0); never a training feature (version 2)
    /views/<view>/jet      (n, len(JET_FIELDS)) float32
    /cutflow               attrs only (JSON per view and for the pairing), see docs/dataset.md

Row i of every dataset describes the same pair: the jets of one truth object of one event in
every view.
"""

SCHEMA_VERSION = 2
