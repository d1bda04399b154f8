//! `kizashi` command line. Every subcommand can print a JSON summary (`--json`); errors are one
//! line on stderr and exit code 1. The subcommands live in `cli/`, one file each.

mod cli;

fn main() {
    match cli::run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // One line: the chain of causes joined (skipping causes the message already quotes),
            // never a backtrace.
            let mut msg = String::new();
            for c in e.chain() {
                let part = c.to_string();
                if !msg.contains(&part) {
                    if !msg.is_empty() {
                        msg.push_str(": ");
                    }
                    msg.push_str(&part);
                }
            }
            eprintln!("kizashi: {msg}");
            std::process::exit(1);
        }
    }
}
