"""The look: one style sheet module, the icons, the palette helpers."""
