//! DigitalOcean client (in progress).
