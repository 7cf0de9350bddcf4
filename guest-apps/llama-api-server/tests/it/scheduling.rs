//! Slots, round-robin steps, the queue, 503 and disconnects.

use crate::support::*;

fn chat(script: &str, stream: bool) -> String {
    post(
        "/v1/chat/completions",
        &format!(
            r#"{{"messages":[{{"role":"user","content":"say:{script}"}}],"stream":{stream}}}"#
        ),
    )
}

#[test]
fn parallel_streams_progress_together_without_cross_talk() {
    let mut app = server(&["--parallel", "2"]);
    app.accept(1);
    app.accept(2);
    app.receive(1, chat("a1|a2|a3", true).as_bytes());
    app.receive(2, chat("b1|b2|b3", true).as_bytes());
    app.tick(); // both slots start and emit their first token
    let first_1 = take_output(&mut app, 1);
    let first_2 = take_output(&mut app, 2);
    assert!(
        first_1.contains("a1") && first_2.contains("b1"),
        "both streams started in the same turn"
    );
    run_until_idle(&mut app);
    let rest_1 = take_output(&mut app, 1);
    let rest_2 = take_output(&mut app, 2);
    let all_1 = format!("{first_1}{rest_1}");
    let all_2 = format!("{first_2}{rest_2}");
    assert!(
        all_1.contains(r#""content":"a3""#) && !all_1.contains(r#""content":"b"#),
        "{all_1}"
    );
    assert!(
        all_2.contains(r#""content":"b3""#) && !all_2.contains(r#""content":"a"#),
        "{all_2}"
    );
}

#[test]
fn requests_beyond_slots_queue_then_get_503_with_retry_after() {
    let mut app = server(&["--parallel", "1", "--queue-size", "1"]);
    for conn in 1..=3 {
        app.accept(conn);
        app.receive(conn, chat("x|y", false).as_bytes());
    }
    let rejected = reply(&take_output(&mut app, 3));
    assert_eq!(rejected.status, 503);
    assert_eq!(rejected.header("retry-after"), Some("1"));
    assert_eq!(rejected.json()["error"]["code"], "server_busy");
    run_until_idle(&mut app);
    assert_eq!(reply(&take_output(&mut app, 1)).status, 200);
    assert_eq!(
        reply(&take_output(&mut app, 2)).status,
        200,
        "the queued request ran after the first"
    );
}

#[test]
fn a_disconnect_frees_its_slot_at_once() {
    let mut app = server(&["--parallel", "1", "--queue-size", "4"]);
    app.accept(1);
    app.accept(2);
    app.receive(1, chat("1|2|3|4|5|6|7|8", true).as_bytes());
    app.receive(2, chat("other", false).as_bytes());
    app.tick();
    app.tick();
    app.hang_up(1);
    run_until_idle(&mut app);
    let reply = reply(&take_output(&mut app, 2));
    assert_eq!(reply.json()["choices"][0]["message"]["content"], "other");
}

#[test]
fn metrics_show_active_slots_and_queue() {
    let mut app = server(&["--parallel", "1"]);
    app.accept(1);
    app.accept(2);
    app.receive(1, chat("1|2|3", true).as_bytes());
    app.receive(2, chat("1|2|3", true).as_bytes());
    app.tick();
    app.accept(3);
    app.receive(3, get("/metrics").as_bytes());
    let text = reply(&take_output(&mut app, 3)).body;
    assert!(
        text.contains("nnedge_active_slots 1\n") && text.contains("nnedge_queue_length 1\n"),
        "{text}"
    );
}
