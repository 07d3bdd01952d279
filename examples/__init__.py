"""Runnable example spiders (see the README's "Writing a spider")."""
