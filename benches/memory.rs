//! Heap and inline bytes held by an idle (reset, unread) episode, counted with
//! an allocating-counting global allocator. Prints numbers; asserts nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use mlops_debug_env::env::{Episode, TaskId};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn main() {
    const N: usize = 10_000;
    println!("size_of::<Episode>() = {} bytes (inline)", std::mem::size_of::<Episode>());
    for task in TaskId::ALL {
        let before = LIVE.load(Ordering::Relaxed);
        let episodes: Vec<Episode> =
            (0..N as u64).map(|seed| Episode::new(task, seed, format!("{seed:032x}"))).collect();
        let heap = (LIVE.load(Ordering::Relaxed) - before) as usize;
        let vec_slots = N * std::mem::size_of::<Episode>();
        println!(
            "{:<6} {} idle episodes: {:.0} bytes each (heap {:.0} + inline {})",
            task.as_str(),
            N,
            heap as f64 / N as f64,
            (heap - vec_slots) as f64 / N as f64,
            std::mem::size_of::<Episode>()
        );
        drop(episodes);
    }
}
