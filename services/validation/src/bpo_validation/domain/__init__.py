"""Pure rules of quality control: no I/O, no HTTP, no database. `decision` decides about an
item; `fields` compares and judges values; `reference` matches reference data, `datasets`
reads an upload of it; `scoring` keeps contractors' scores."""
