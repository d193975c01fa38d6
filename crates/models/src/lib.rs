//! bedside-models: see ARCHITECTURE.md
