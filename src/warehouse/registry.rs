//! The grid registry in force, read back from the warehouse's registry table.

use std::collections::BTreeMap;

use arrow::array::{Array, StringArray};

use super::{Warehouse, WarehouseError, dated};
use crate::normalize::grid::{Registry, RegistryRow};

impl Warehouse {
    /// The grid registry in force: for each county (`normalize::in_force`), the latest snapshot
    /// that covered it, with the later community-only updates laid over it (the same rule as
    /// `stg_registry.sql`).
    pub fn registry(&self) -> Result<Registry, WarehouseError> {
        // report date → (district-wide rows, community-only rows), each as a registry.
        let mut snapshots: BTreeMap<String, (Registry, Registry)> = BTreeMap::new();
        for path in self.table_files(crate::config::forms::GRID_REGISTRY) {
            let names = ["town", "community", "community_code", "grid_name", "grid_code", "sub_grid_code"];
            for batch in dated::read(&path, &[&names[..], &["registry_scope"]].concat())? {
                let col =
                    |n: &str| batch.column_by_name(n).and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
                let (Some(town), Some(community), Some(code), Some(grid)) =
                    (col("town"), col("community"), col("community_code"), col("grid_code"))
                else {
                    continue;
                };
                let (grid_name, sub) = (col("grid_name"), col("sub_grid_code"));
                // Files written before scopes existed were always whole registries.
                let scope = col("registry_scope");
                fn value(a: &StringArray, i: usize) -> Option<&str> {
                    (!a.is_null(i)).then(|| a.value(i))
                }
                for (i, date) in dated::row_dates(&batch).into_iter().enumerate() {
                    let Some(date) = date else { continue };
                    let (Some(c), Some(g)) = (value(&code, i), value(&grid, i)) else { continue };
                    let (whole, partial) = snapshots.entry(date.to_string()).or_default();
                    let partial_row = scope.as_ref().and_then(|s| value(s, i)) == Some("community");
                    let target = if partial_row { partial } else { whole };
                    // The codes were written as filed (derived ones included): read them back.
                    target.add_row(&RegistryRow {
                        town: value(&town, i).unwrap_or_default(),
                        community: value(&community, i).unwrap_or_default(),
                        community_code: Some(c),
                        grid_name: grid_name.as_ref().and_then(|a| value(a, i)).unwrap_or_default(),
                        grid_code: Some(g),
                        sub_grid_name: "",
                        sub_grid_code: sub.as_ref().and_then(|a| value(a, i)),
                    });
                }
            }
        }
        // Date by date, as the ingest applied them (`normalize::in_force`).
        let mut registry = Registry::default();
        for (whole, partial) in snapshots.into_values() {
            registry.replace_parts(whole);
            registry.overlay(partial);
        }
        Ok(registry)
    }
}
