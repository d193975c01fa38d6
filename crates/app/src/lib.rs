//! bedside-app: see ARCHITECTURE.md
