//! Inbound side of the hand-written protocols (stream-proto, echo, perf).
//!
//! libp2p-stream's `Control::accept` hands inbound streams over a channel with room for one
//! stream and *drops* (resets) any stream negotiated while that slot is taken. A connection
//! task negotiates many streams in one poll, so 50 concurrent echo streams from go-libp2p
//! (which pipelines multistream with its first data) lost most of them. This behaviour does
//! the same negotiation (plain multistream-select, listener side) but queues every negotiated
//! stream on an unbounded channel, so no stream is dropped. Outbound streams still use
//! libp2p-stream's `Control::open_stream`.

use std::{
    convert::Infallible,
    future::{ready, Ready},
    task::{Context, Poll},
};

use libp2p::{
    core::{transport::PortUse, upgrade::DeniedUpgrade, Endpoint, InboundUpgrade, UpgradeInfo},
    swarm::{
        handler::{ConnectionEvent, FullyNegotiatedInbound},
        ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm,
        NetworkBehaviour, SubstreamProtocol, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
    },
    Multiaddr, PeerId, Stream, StreamProtocol,
};
use tokio::sync::mpsc::UnboundedSender;

/// One negotiated inbound stream.
pub type Inbound = (PeerId, StreamProtocol, Stream);

pub struct Behaviour {
    protocols: Vec<StreamProtocol>,
    sender: Option<UnboundedSender<Inbound>>,
}

impl Behaviour {
    /// Accepts `protocols` and sends every negotiated stream to `sender`.
    pub fn new(protocols: Vec<StreamProtocol>, sender: UnboundedSender<Inbound>) -> Self {
        Behaviour {
            protocols,
            sender: Some(sender),
        }
    }

    /// Accepts nothing (client commands only dial).
    pub fn disabled() -> Self {
        Behaviour {
            protocols: Vec::new(),
            sender: None,
        }
    }

    fn handler(&self, peer: PeerId) -> Handler {
        Handler {
            peer,
            protocols: self.protocols.clone(),
            sender: self.sender.clone(),
        }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = Handler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler(peer))
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler(peer))
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        e: THandlerOutEvent<Self>,
    ) {
        match e {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

pub struct Handler {
    peer: PeerId,
    protocols: Vec<StreamProtocol>,
    sender: Option<UnboundedSender<Inbound>>,
}

/// Listener-side multistream-select over a fixed protocol list; yields the stream as is.
pub struct Upgrade(Vec<StreamProtocol>);

impl UpgradeInfo for Upgrade {
    type Info = StreamProtocol;
    type InfoIter = std::vec::IntoIter<StreamProtocol>;

    fn protocol_info(&self) -> Self::InfoIter {
        self.0.clone().into_iter()
    }
}

impl InboundUpgrade<Stream> for Upgrade {
    type Output = (Stream, StreamProtocol);
    type Error = Infallible;
    type Future = Ready<Result<Self::Output, Self::Error>>;

    fn upgrade_inbound(self, stream: Stream, protocol: StreamProtocol) -> Self::Future {
        ready(Ok((stream, protocol)))
    }
}

impl ConnectionHandler for Handler {
    type FromBehaviour = Infallible;
    type ToBehaviour = Infallible;
    type InboundProtocol = Upgrade;
    type OutboundProtocol = DeniedUpgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol> {
        SubstreamProtocol::new(Upgrade(self.protocols.clone()), ())
    }

    fn poll(
        &mut self,
        _: &mut Context<'_>,
    ) -> Poll<ConnectionHandlerEvent<Self::OutboundProtocol, (), Self::ToBehaviour>> {
        Poll::Pending
    }

    fn on_behaviour_event(&mut self, e: Self::FromBehaviour) {
        match e {}
    }

    fn on_connection_event(
        &mut self,
        event: ConnectionEvent<Self::InboundProtocol, Self::OutboundProtocol>,
    ) {
        if let ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound {
            protocol: (stream, protocol),
            ..
        }) = event
        {
            if let Some(sender) = &self.sender {
                // The receiver lives as long as the listener; a send error means shutdown.
                let _ = sender.send((self.peer, protocol, stream));
            }
        }
    }
}
