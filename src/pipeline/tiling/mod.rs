//! Scale-out: a job file split into square tiles with halos (`kizashi plan`), the tiles run
//! as ordinary jobs on whatever runs processes (`kizashi run PLAN/`, a Slurm array, Dask),
//! and their results merged into one (`kizashi merge`).

mod area;

pub use area::{epoch_files, TileArea, TileStep};
mod merge;
mod plan;
mod run;

pub use merge::{merge, MergeJob, MergeSummary};
pub use plan::{plan, read_manifest, Manifest, PlanJob, PlannedTile, MANIFEST};
pub use run::{
    run_plan, sbatch_script, tile_state, RunPlanJob, RunPlanSummary, TileFigures, TileState,
};
