//! bedside-pathways: see ARCHITECTURE.md
