"""The lifecycle base node shared by all bridges: parameters, diagnostics, connection state."""
