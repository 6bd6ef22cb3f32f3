//! A layer's event sink into an [`EventQueue`] that closes the queue when
//! the layer goes away (the I/O thread ended), so that readers wake up.

use super::EventQueue;
use crate::endpoint::EventSink;
use std::sync::Arc;

struct CloseOnDrop<T>(Arc<EventQueue<T>>);

impl<T> Drop for CloseOnDrop<T> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A sink that pushes into `queue` and closes it when dropped.
pub fn queue_sink<T: Send + 'static>(queue: Arc<EventQueue<T>>) -> EventSink<T> {
    let guard = CloseOnDrop(queue);
    Box::new(move |event| guard.0.push(event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_then_closes_on_drop() {
        let q = Arc::new(EventQueue::<u32>::new(16).unwrap());
        let mut sink = queue_sink(q.clone());
        sink(7);
        assert_eq!(q.try_pop(), Some(7));
        assert!(!q.is_closed());
        drop(sink);
        assert!(q.is_closed());
        assert_eq!(q.pop_timeout(None), None);
    }
}
