package lacp

import "strconv"

// firstAgg is the aggregator of the first slave (__get_first_agg).
func (s *System) firstAgg() *aggregator {
	if len(s.ports) == 0 {
		return nil
	}
	return &s.ports[0].ownAgg
}

// activeAgg is the first slave-owned aggregator marked active
// (__get_active_agg).
func (s *System) activeAgg() *aggregator {
	for _, p := range s.ports {
		if p.ownAgg.isActive {
			return &p.ownAgg
		}
	}
	return nil
}

// aggBandwidth is __get_agg_bandwidth: enabled ports times the speed of the
// port attached last.
func (s *System) aggBandwidth(a *aggregator) uint32 {
	n := a.activePorts()
	if n == 0 {
		return 0
	}
	return uint32(n) * speedCodeMbps(s.linkSpeed(a.lagPorts))
}

// portSelection attaches an unselected port to an aggregator
// (ad_port_selection_logic).
func (s *System) portSelection(p *port) {
	if p.smVars&portSelected != 0 {
		return
	}
	if old := p.agg; old != nil {
		var last *port
		cur := old.lagPorts
		for ; cur != nil; last, cur = cur, cur.nextInAgg {
			if cur != p {
				continue
			}
			old.numPorts--
			if last == nil {
				old.lagPorts = p.nextInAgg
			} else {
				last.nextInAgg = p.nextInAgg
			}
			p.agg = nil
			p.nextInAgg = nil
			p.actorPortAggID = 0
			if old.lagPorts == nil {
				old.clear()
			}
			break
		}
		if cur == nil {
			s.emit(Event{Level: LevelWarn, RateLimited: true,
				Text: s.name + ": (slave " + p.name + "): Warning: Port " +
					strconv.Itoa(int(p.actorPortNumber)) + " was related to aggregator " +
					strconv.Itoa(int(old.id)) + " but was not on its port list"})
		}
	}

	var free *aggregator
	found := false
	for _, sl := range s.ports {
		a := &sl.ownAgg
		if a.lagPorts == nil {
			if free == nil {
				free = a
			}
			continue
		}
		if a.actorOperKey == p.actorOperKey &&
			a.partnerSystem == p.partnerOper.system &&
			a.partnerSystemPriority == p.partnerOper.systemPriority &&
			a.partnerOperKey == p.partnerOper.key &&
			a.hasPartner() && !a.isIndividual {
			p.agg = a
			p.actorPortAggID = a.id
			p.nextInAgg = a.lagPorts
			a.numPorts++
			a.lagPorts = p
			p.smVars |= portSelected
			found = true
			break
		}
	}
	if !found {
		if free == nil {
			s.slaveLog(LevelErr, p, "Port "+strconv.Itoa(int(p.actorPortNumber))+
				" did not find a suitable aggregator")
			return
		}
		p.actorPortAggID = free.id
		free.isIndividual = p.actorOperKey&duplexKeyMask == 0
		free.actorAdminKey = p.actorAdminKey
		free.actorOperKey = p.actorOperKey
		free.partnerSystem = p.partnerOper.system
		free.partnerSystemPriority = p.partnerOper.systemPriority
		free.partnerOperKey = p.partnerOper.key
		free.receiveState = true
		free.transmitState = true
		free.lagPorts = p
		free.numPorts++
		p.agg = free
		p.smVars |= portSelected
	}
	a := p.agg
	a.setPortsReady(a.portsReady())
	s.aggSelection(s.firstAgg())
	if !a.isActive {
		p.actorOperState &^= StateSynchronization
	}
}

// aggSelectionTest decides whether curr is a better active aggregator than
// best under the ad_select policy (ad_agg_selection_test).
func (s *System) aggSelectionTest(best, curr *aggregator) *aggregator {
	if best == nil {
		return curr
	}
	if !curr.isIndividual && best.isIndividual {
		return curr
	}
	if curr.isIndividual && !best.isIndividual {
		return best
	}
	if curr.hasPartner() && !best.hasPartner() {
		return curr
	}
	if !curr.hasPartner() && best.hasPartner() {
		return best
	}
	switch s.opt.ADSelect {
	case SelectCount:
		ca, ba := curr.activePorts(), best.activePorts()
		if ca > ba {
			return curr
		}
		if ca < ba {
			return best
		}
		fallthrough
	case SelectStable, SelectBandwidth:
		if s.aggBandwidth(curr) > s.aggBandwidth(best) {
			return curr
		}
	default:
		owner := ""
		if curr.owner != nil {
			owner = curr.owner.name
		}
		s.emit(Event{Level: LevelWarn, RateLimited: true,
			Text: s.name + ": (slave " + owner + "): Impossible agg select mode " +
				strconv.Itoa(int(s.opt.ADSelect))})
	}
	return best
}

// aggSelection chooses the bond's active aggregator
// (ad_agg_selection_logic), then sets the carrier (bond_3ad_set_carrier).
// origin is the first slave's aggregator; nil does nothing.
func (s *System) aggSelection(origin *aggregator) {
	if origin == nil {
		return
	}
	active := s.activeAgg()
	var best *aggregator
	if active != nil && active.deviceUp() {
		best = active
	}
	for _, sl := range s.ports {
		a := &sl.ownAgg
		a.isActive = false
		if a.activePorts() != 0 && a.deviceUp() {
			best = s.aggSelectionTest(best, a)
		}
	}
	if best != nil && s.opt.ADSelect == SelectStable {
		if active != nil && active.lagPorts != nil && active.activePorts() != 0 &&
			(active.hasPartner() || (!active.hasPartner() && !best.hasPartner())) {
			if !(active.actorOperKey == 0 && best.actorOperKey != 0) {
				best = nil
				active.isActive = true
			}
		}
	}
	if best != nil && best == active {
		best = nil
		active.isActive = true
	}
	if best != nil {
		if best.isIndividual {
			s.emit(Event{Level: LevelWarn, RateLimited: true,
				Text: s.name + ": Warning: No 802.3ad response from the link partner for any adapters in the bond"})
		}
		best.isActive = true
		if active != nil {
			for p := active.lagPorts; p != nil; p = p.nextInAgg {
				s.disablePort(p)
			}
		}
		s.pending |= ChangeSlaveArray
	}
	if a := s.activeAgg(); a != nil && !a.hasPartner() {
		for p := a.lagPorts; p != nil; p = p.nextInAgg {
			s.enablePort(p)
		}
		s.pending |= ChangeSlaveArray
	}
	s.setCarrier3AD()
}

// setCarrier3AD is bond_3ad_set_carrier: carrier on when an aggregator is
// active with at least min_links enabled ports.
func (s *System) setCarrier3AD() {
	if len(s.ports) == 0 {
		return
	}
	on := false
	if a := s.activeAgg(); a != nil {
		on = a.activePorts() >= s.opt.MinLinks
	}
	s.setCarrier(on)
}

func (s *System) setCarrier(on bool) {
	if s.carrier != on {
		s.carrier = on
		s.pending |= ChangeCarrier
	}
}
