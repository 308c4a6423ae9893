//! A remote metadata file the plan did not read (every file there fit the local record of the
//! last sync) is read by apply, which refuses the plan if the file would give a planned entry
//! another time than the listing the plan used.

use std::fs;

use ftpsync::apply::{ApplyError, apply};
use ftpsync::backend::local::LocalTarget;
use ftpsync::meta::META_FILE;
use ftpsync::model::{Clock, SystemClock};
use ftpsync::plan::document::MetaStatus;
use ftpsync::plan::options::{Mode, PlanOptions};
use ftpsync::scan::engine::make_plan_with;

use crate::support::fixture::write;
use crate::support::{ftp, settings, workers};

#[test]
fn an_unread_remote_metadata_file_is_checked_before_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (local, served) = (dir.path().join("local"), dir.path().join("served"));
    write(dir.path(), "local/site/a.txt", "aaaa", 1_600_000_000.0);
    write(dir.path(), "local/site/b.txt", "bbbb", 1_600_000_000.0);
    fs::create_dir(&served).unwrap();
    let server = ftp::serve(&served);
    let plan_upload = || {
        let mut l = LocalTarget::open(&local).unwrap();
        make_plan_with(&mut l, &mut ftp::target(&server), PlanOptions::new(Mode::Upload), SystemClock.now(), workers())
            .unwrap()
            .plan
    };
    let first = plan_upload();
    apply(&first, &mut LocalTarget::open(&local).unwrap(), &mut ftp::target(&server), &settings()).unwrap();

    // One local edit: the folder is planned, its remote metadata (whose files all fit the
    // local records) is left unread.
    write(dir.path(), "local/site/b.txt", "bbbb, edited", 1_700_000_000.0);
    let plan = plan_upload();
    let site = plan.folders.iter().find(|f| f.path.as_str() == "site").expect("the folder is in the plan");
    assert_eq!(
        site.remote.as_ref().unwrap().meta,
        MetaStatus::Unread,
        "the remote metadata was read although nothing in it could matter"
    );

    // Someone rewrites the remote metadata: a fitting record gives a.txt another time.
    let meta_path = served.join("site").join(META_FILE);
    let mut meta: serde_json::Value = serde_json::from_slice(&fs::read(&meta_path).unwrap()).unwrap();
    let u = SystemClock.now();
    meta["mtimes"]["a.txt"] = serde_json::json!({"m": 1_500_000_000.0, "s": 4, "u": u});
    fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();

    let before = fs::read(served.join("site/b.txt")).unwrap();
    match apply(&plan, &mut LocalTarget::open(&local).unwrap(), &mut ftp::target(&server), &settings()) {
        Err(ApplyError::Drift(drift)) => {
            assert!(drift.iter().any(|d| d.path == "site/a.txt" && d.found.contains("metadata")), "{drift:?}");
        }
        other => panic!("apply went on: {:?}", other.map(|_| ()).map_err(|e| e.to_string())),
    }
    assert_eq!(fs::read(served.join("site/b.txt")).unwrap(), before, "apply changed something before refusing");

    // Without that change, the same kind of plan applies, and the metadata file keeps what
    // it had besides the new record.
    fs::write(
        &meta_path,
        serde_json::to_vec(&{
            let mut m = meta.clone();
            m["mtimes"].as_object_mut().unwrap().remove("a.txt");
            m
        })
        .unwrap(),
    )
    .unwrap();
    let plan = plan_upload();
    apply(&plan, &mut LocalTarget::open(&local).unwrap(), &mut ftp::target(&server), &settings()).unwrap();
    assert_eq!(fs::read_to_string(served.join("site/b.txt")).unwrap(), "bbbb, edited");
}
