"""Video datasets: the Zarr layout, importers (Ego4D, BridgeData V2), fast frame readers, inspection."""
