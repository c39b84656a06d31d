//! A body POSTed to an inbox: what the server does with it before any network or database
//! access (size limit, JSON parsing with serde_json's depth limit, classification into the
//! protocol types), then the pure conversion of any embedded post into what is stored.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lyceum::federation::classify::{Action, Document, Inbound, Object};
use lyceum::federation::inbox::parse_activity;
use lyceum::federation::receive::convert_post;

fuzz_target!(|data: &[u8]| {
    let Ok(activity) = parse_activity(data) else {
        return;
    };
    // What the handler compares next (origin check), on the parsed URLs.
    let _ = lyceum::federation::actor::authority(&activity.id);
    let _ = lyceum::federation::actor::authority(&activity.actor);
    convert_posts(&activity.inbound);
});

/// Runs the storage conversion on every post an inbound document embeds.
fn convert_posts(inbound: &Inbound) {
    match inbound {
        Inbound::Document(document) => convert_document(document),
        Inbound::Activity(activity) => convert_action(&activity.action),
        Inbound::Ignored { .. } => {}
    }
}

fn convert_action(action: &Action) {
    match action {
        Action::Create(Object::Embedded(document)) | Action::Update(Object::Embedded(document)) => {
            convert_document(document)
        }
        Action::Undo(inner) => convert_action(&inner.action),
        Action::Announce(inner) => convert_posts(inner),
        _ => {}
    }
}

fn convert_document(document: &Document) {
    if let Document::Post(page) = document {
        for group in [None, Some("g"), Some("learning")] {
            let post = convert_post(page, group);
            assert!(post.title.chars().count() <= 200, "title too long");
        }
    }
}
