//! framecast-apps (being built).
