//! Google Tasks as Takeout writes them (`Tasks/Tasks.json`) turned into iCalendar to-dos: one
//! VTODO per task, written with the `icalendar` crate, subtasks linked to their parent with
//! RELATED-TO. The JSON itself is kept in the archive too, so nothing it says is lost.

use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component as _, Property, Todo, TodoStatus};
use serde::Deserialize;

/// `Tasks.json`: the task lists.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskLists {
    #[serde(default)]
    pub items: Vec<TaskList>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TaskList {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub items: Vec<Task>,
}

/// One task; Google's field names. Fields we do not map stay in the kept JSON.
#[derive(Debug, Clone, Deserialize)]
pub struct Task {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    /// `needsAction` or `completed`.
    #[serde(default)]
    pub status: Option<String>,
    /// RFC 3339; Google keeps only the date (the time is always midnight UTC).
    #[serde(default)]
    pub due: Option<String>,
    #[serde(default)]
    pub completed: Option<String>,
    #[serde(default)]
    pub updated: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
    /// The parent task's id, for subtasks.
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub deleted: Option<bool>,
    #[serde(default)]
    pub links: Vec<TaskLink>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TaskLink {
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Reads `Tasks.json`; the message says what is wrong with it.
pub fn parse(bytes: &[u8]) -> Result<TaskLists, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("Tasks.json could not be read: {e}"))
}

/// A task's UID: stable across exports, so a second import of the same Takeout restores
/// nothing twice.
pub fn uid_of(task_id: &str) -> String {
    format!("{task_id}@tasks.google.com")
}

fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The task as one iCalendar object holding one VTODO.
pub fn vtodo(task: &Task) -> Vec<u8> {
    let mut todo = Todo::new();
    todo.uid(&uid_of(&task.id));
    // DTSTAMP from the task, not the clock: the same Takeout gives the same bytes every time,
    // so snapshots and restores see an unchanged item.
    let stamp = task
        .updated
        .as_deref()
        .and_then(timestamp)
        .unwrap_or(DateTime::UNIX_EPOCH);
    todo.timestamp(stamp);
    todo.last_modified(stamp);
    if let Some(created) = task.created.as_deref().and_then(timestamp) {
        todo.created(created);
    }
    todo.summary(task.title.as_deref().unwrap_or(""));
    let mut description = task.notes.clone().unwrap_or_default().replace("\r\n", "\n");
    for link in &task.links {
        if let Some(url) = &link.link {
            if !description.is_empty() {
                description.push_str("\n\n");
            }
            match &link.description {
                Some(text) if !text.is_empty() => {
                    description.push_str(&format!("{text}: {url}"));
                }
                _ => description.push_str(url),
            }
        }
    }
    if !description.is_empty() {
        todo.description(&description);
    }
    if let Some(due) = task.due.as_deref().and_then(timestamp) {
        todo.due(due.date_naive());
    }
    let completed = task.status.as_deref() == Some("completed");
    if task.deleted == Some(true) {
        todo.status(TodoStatus::Cancelled);
    } else if completed {
        todo.status(TodoStatus::Completed);
        todo.percent_complete(100);
    } else {
        todo.status(TodoStatus::NeedsAction);
    }
    if let Some(at) = task.completed.as_deref().and_then(timestamp) {
        todo.completed(at);
    }
    if let Some(parent) = &task.parent {
        let mut related = Property::new("RELATED-TO", uid_of(parent));
        related.add_parameter("RELTYPE", "PARENT");
        todo.append_property(related);
    }
    let mut calendar = Calendar::empty();
    calendar.append_property(Property::new("VERSION", "2.0"));
    calendar.append_property(Property::new("PRODID", "-//Lifeboat//Google Tasks//EN"));
    calendar.push(todo.done());
    calendar.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TASKS: &str = r#"{
      "kind": "tasks#taskLists",
      "items": [{
        "kind": "tasks#tasksList", "id": "L1", "title": "Einkäufe; daheim",
        "items": [
          {"kind": "tasks#task", "id": "P", "title": "Umzug, planen", "status": "needsAction",
           "notes": "Zeile 1\r\nZeile 2", "due": "2026-12-24T00:00:00.000Z",
           "updated": "2026-11-01T10:00:00.000Z",
           "links": [{"type": "email", "description": "Mail", "link": "https://mail.google.com/x"}]},
          {"kind": "tasks#task", "id": "C", "title": "Kisten", "status": "completed",
           "parent": "P", "completed": "2026-11-20T09:30:00.000Z",
           "updated": "2026-11-20T09:30:00.000Z"}
        ]
      }]
    }"#;

    fn todo_of(id: &str) -> String {
        let lists = parse(TASKS.as_bytes()).unwrap();
        let task = lists.items[0].items.iter().find(|t| t.id == id).unwrap();
        String::from_utf8(vtodo(task)).unwrap()
    }

    #[test]
    fn a_task_becomes_a_valid_vtodo_that_the_lenient_parser_reads() {
        let text = todo_of("P");
        assert!(
            text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"),
            "{text}"
        );
        for line in [
            "UID:P@tasks.google.com",
            "SUMMARY:Umzug\\, planen",
            "DESCRIPTION:Zeile 1\\nZeile 2\\n\\nMail: https://mail.google.com/x",
            "DUE;VALUE=DATE:20261224",
            "STATUS:NEEDS-ACTION",
            "DTSTAMP:20261101T100000Z",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        let facts = crate::vobject::inspect(text.as_bytes());
        assert_eq!(facts.kind, crate::model::ItemKind::Todo);
        assert_eq!(facts.uid.as_deref(), Some("P@tasks.google.com"));
        assert!(facts.parse_problem.is_none(), "{:?}", facts.parse_problem);
    }

    #[test]
    fn a_subtask_points_at_its_parent_and_keeps_its_completion() {
        let text = todo_of("C");
        assert!(
            text.contains("RELATED-TO;RELTYPE=PARENT:P@tasks.google.com"),
            "{text}"
        );
        assert!(text.contains("STATUS:COMPLETED"), "{text}");
        assert!(text.contains("COMPLETED:20261120T093000Z"), "{text}");
    }

    #[test]
    fn the_same_task_gives_the_same_bytes_every_time() {
        assert_eq!(todo_of("P"), todo_of("P"));
    }

    #[test]
    fn broken_json_is_a_message_not_a_panic() {
        assert!(parse(b"{\"items\": [{\"id\": 3}]}").is_err());
        assert!(parse(b"\xff").is_err());
    }
}
