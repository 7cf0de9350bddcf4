//! Serves a chat page at `GET /` only when `src/chat.html` exists: sets `cfg(chat_page)`.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(chat_page)");
    println!("cargo::rerun-if-changed=src/chat.html");
    if std::path::Path::new("src/chat.html").exists() {
        println!("cargo::rustc-cfg=chat_page");
    }
}
