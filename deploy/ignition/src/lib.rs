//! Butane to Ignition (in progress).
