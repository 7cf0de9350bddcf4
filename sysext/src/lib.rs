//! Flatcar sysext image baking (in progress).
