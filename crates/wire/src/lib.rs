//! framecast-wire (being built).
