//! bedside-server: see ARCHITECTURE.md
