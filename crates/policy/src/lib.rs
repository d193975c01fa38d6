//! bedside-policy: see ARCHITECTURE.md
