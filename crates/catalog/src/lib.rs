//! framecast-catalog (being built).
